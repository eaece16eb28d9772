package authz
default allow := false
allow if {
    some role in input.user.roles
    role == "admin"
}
allow if {
    input.method == "GET"
    startswith(input.path, "/public/")
}
