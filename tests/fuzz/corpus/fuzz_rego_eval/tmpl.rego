package tmpl
name := "world"
msg := $"hello {name}, {1 + 2}"
