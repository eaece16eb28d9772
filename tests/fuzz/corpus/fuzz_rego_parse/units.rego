package units
x := [units.parse_bytes("10KiB"), units.parse("1.5k")]
