package rec
a := b
b := c
c := 1
d[x] := y if { some x, y in {"k": "v"} }
