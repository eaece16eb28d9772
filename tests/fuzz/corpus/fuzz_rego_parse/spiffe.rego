package spiffe
import data.allowlist
allow if {
    some e in allowlist
    e.source == input.source
    e.target == input.target
    glob.match(e.path, ["/"], input.path)
}
