package w
allow if input.user == "x"
t1 if allow with input as {"user": "x"}
t2 if not allow with input.user as "y"
fake(_) := true
t3 if is_string(1) with is_string as fake
t4 if data.cfg.level == 5 with data.cfg.level as 5
