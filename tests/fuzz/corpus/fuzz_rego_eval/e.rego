package e
v := 1 if input.a
else := 2 if input.b
else := 3
w := x if { x := {k: v | some k, v in input.obj; v > 1} }

#input
{"b":true,"obj":{"a":1,"b":2,"c":3}}