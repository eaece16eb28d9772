package setops
a := {1, 2, 3}
b := {2, 3, 4}
i := a & b
u := a | b
d := a - b
ii := intersection({a, b})
uu := union({a, b})
arr := array.concat([1], [2])
sl := array.slice([1, 2, 3, 4], 1, 3)
rv := array.reverse([1, 2, 3])
srt := sort([3, 1, 2])
