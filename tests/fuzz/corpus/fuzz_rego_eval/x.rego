package x
f(x) := y if { y := x * 2 }
f(x) := 0 if x < 0
g(a, b) := a + b
r := [f(1), g(2, 3), f(-1)]
