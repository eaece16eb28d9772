package unify
[a, b] := [1, 2]
{"k": c} := {"k": 3}
t if {
    [x, [y, z]] = [1, [2, 3]]
    x + y == z
}
q[x] if { some x; [x, 1] = [2, 1] }
