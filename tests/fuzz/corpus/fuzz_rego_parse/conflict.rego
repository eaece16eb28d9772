package conflict
x := 1
x := 2 if input.y
