package rbac
import rego.v1
user_roles := {"alice": ["reader"], "bob": ["writer", "reader"]}
role_perms := {"reader": {"read"}, "writer": {"read", "write"}}
perms contains p if {
    some r in user_roles[input.user]
    some p in role_perms[r]
}
allow if input.action in perms
