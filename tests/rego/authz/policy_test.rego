package authz_test

import data.authz

test_admin_may_post if {
	authz.allow with input as {"user": "alice", "method": "POST", "path": "/api/users"}
}

test_reader_may_read_docs if {
	authz.allow with input as {"user": "bob", "method": "GET", "path": "/docs/intro"}
}

test_reader_may_not_post if {
	not authz.allow with input as {"user": "bob", "method": "POST", "path": "/docs/intro"}
}

test_denials_say_why if {
	r := authz.reasons with input as {"user": "bob", "method": "DELETE", "path": "/docs/x"}
	r == {"bob may not DELETE /docs/x"}
}
