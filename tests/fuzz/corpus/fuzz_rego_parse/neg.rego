package neg
deny contains msg if {
    not input.user
    msg := "no user"
}
deny contains msg if {
    input.user
    not startswith(input.user, "svc-")
    msg := sprintf("bad user %v", [input.user])
}
