package bad
p if { q }
q if { p }
