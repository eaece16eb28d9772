package bits
r := [bits.or(5, 3), bits.and(5, 3), bits.xor(5, 3), bits.negate(5), bits.lsh(1, 10), bits.rsh(1024, 3)]
