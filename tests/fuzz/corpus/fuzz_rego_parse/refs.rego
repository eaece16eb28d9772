package refs
a.b.c := 1
a.b.d contains "x"
a.e[k] := v if { some k, v in {"p": 1, "q": 2} }
out := a
