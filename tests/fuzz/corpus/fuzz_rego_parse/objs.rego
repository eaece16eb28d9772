package objs
o := {"a": {"b": 1}, "c": 2}
g := object.get(o, ["a", "b"], 0)
k := object.keys(o)
r := object.remove(o, ["c"])
u := object.union(o, {"c": 3, "d": 4})
un := object.union_n([o, {"e": 5}])
f := object.filter(o, {"a"})
s := object.subset(o, {"c": 2})
wk := [p | walk(o, [p, _])]
