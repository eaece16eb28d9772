# The decisions of examples/authz/rego.yaml. The query is data.portcullis.authz.decision: an
# object with "allow", and optionally "status", "headers" and "reason".
package portcullis.authz

import rego.v1

default decision := {"allow": false, "status": 403, "reason": "not_allowed"}

# Health checks need no identity.
decision := {"allow": true, "reason": "public"} if {
	input.attributes.request.http.method in {"GET", "HEAD"}
	input.parsed_path == ["health"]
}

# A user reads their own orders: /users/<sub>/orders and below.
decision := {"allow": true, "reason": "owner", "headers": {"x-order-owner": input.principal.sub}} if {
	input.principal.authenticated
	input.attributes.request.http.method in {"GET", "HEAD"}
	count(input.parsed_path) >= 3
	input.parsed_path[0] == "users"
	input.parsed_path[1] == input.principal.sub
	input.parsed_path[2] == "orders"
}
