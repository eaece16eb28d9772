package strs
r := {
    "concat": concat(",", ["a", "b"]),
    "fmt": sprintf("%s %d %v %.2f %x %q", ["s", 10, {"a": [1]}, 3.14159, 255, "q"]),
    "split": split("a/b/c", "/"),
    "repl": replace("aaa", "a", "b"),
    "trim": trim_space("  x  "),
    "sub": substring("hello", 1, 3),
    "upper": upper("abc"),
    "idx": indexof("abc", "c"),
    "rev": strings.reverse("abc"),
    "cnt": strings.count("banana", "a"),
    "fi": format_int(255, 16),
}
