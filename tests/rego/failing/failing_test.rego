# Tests that must fail or error, for the CLI's `policy test` report.
package failing

test_passes if true

test_false if 1 == 2

test_undefined if input.missing

value := 1 if true

value := 2 if true

test_conflict if value == 1
