package unsafe
p if { x > 1 }
