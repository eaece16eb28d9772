package re
m := regex.match(`^[a-z]+\d*$`, input.s)
f := regex.find_n(`a.`, "abacad", -1)
sub := regex.find_all_string_submatch_n(`(a)(b)?`, "abac", -1)
spl := regex.split(`,\s*`, "a, b,c")
g := glob.match("api.*.com", ["."], "api.x.com")
rp := regex.replace("abc", "b", "X")
