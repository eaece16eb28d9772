# Role-based access with OAuth scopes: a caller may act on a resource when one of its roles
# grants the action on that resource kind, the token carries the matching scope, and the
# caller is not suspended. Tenancy: the path's tenant must be the caller's.
package bench.rbac

default allow := false

method_actions := {
	"GET": "read",
	"HEAD": "read",
	"POST": "create",
	"PUT": "update",
	"PATCH": "update",
	"DELETE": "delete",
}

# input.request.path is the split path: ["tenants", "<tenant>", "<resource kind>", ...]
action := method_actions[input.request.method]

tenant := input.request.path[1]

kind := input.request.path[2]

required_scope := concat(":", [kind, action])

allow if {
	not suspended
	tenant == input.subject.tenant
	some role in input.subject.roles
	some grant in data.rbac.roles[role].grants
	grant.resource == kind
	action in grant.actions
	required_scope in input.subject.scopes
}

# Platform operators may read anything in any tenant.
allow if {
	"platform-operator" in input.subject.roles
	action == "read"
}

suspended if input.subject.id in data.rbac.suspended
