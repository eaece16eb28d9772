# A small HTTP authorization policy for the CLI tests: roles from data, grants per role with a
# method and a glob over the path.
package authz

default allow := false

allow if {
	some role in data.roles[input.user]
	some grant in data.grants[role]
	grant.method == input.method
	glob.match(grant.path, ["/"], input.path)
}

reasons contains msg if {
	not allow
	msg := sprintf("%s may not %s %s", [input.user, input.method, input.path])
}
