package tests
test_ok if { 1 == 1 }
test_fail if { 1 == 2 }
test_sleep if { test.sleep("1ms") }
