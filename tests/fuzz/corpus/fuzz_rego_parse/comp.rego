package comp
s := {x | some x in [1, 2, 2, 3]}
o := {k: count(v) | some k, v in {"a": [1], "b": [1, 2]}}
n := [[i, j] | some i in [1, 2]; some j in [3, 4]; i + j != 5]
