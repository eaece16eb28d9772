package ev
ok if every x in [1, 2, 3] { x > 0 }
nok if every k, v in {"a": 1} { k == "a"; v == 2 }
not_nok if not nok
s := {x | x := numbers.range(1, 10)[_]; x % 2 == 0}
a := [x | some x in s]
c := count(a) + sum(a) + max(a) - min(a)
