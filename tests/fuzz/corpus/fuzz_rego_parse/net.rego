package net
c := net.cidr_contains("10.0.0.0/8", input.ip)
i := net.cidr_intersects("10.0.0.0/8", "10.1.0.0/16")
v := net.cidr_is_valid("::1/128")
cm := net.cidr_contains_matches(["10.0.0.0/8", "192.168.0.0/16"], ["10.1.2.3", "192.168.1.1"])
