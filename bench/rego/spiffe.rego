# SPIFFE service-to-service allow list: a workload may call another when the pair is listed
# below with the HTTP method and path prefix it may use, its SVID is from our trust domain and
# has not been revoked. The list has one rule per allowed pair, as teams generate it from their
# service catalogue; the rule index keeps a decision from trying all of them.
package bench.spiffe

default allow := false

trust_domain := "prod.example.org"

allow if {
	not revoked
	same_trust_domain
	permitted
}

same_trust_domain if {
	parts := split(input.source, "/")
	parts[0] == "spiffe:"
	parts[2] == trust_domain
}

revoked if input.source in data.spiffe.revoked

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/api"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/api"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/api"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/api"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/db-proxy"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.method in {"GET"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/api"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/search/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/search/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/api"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/api"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/api"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/api"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/api"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/api"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/api"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/api"
	input.destination == "spiffe://prod.example.org/ns/search/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/api"
	input.destination == "spiffe://prod.example.org/ns/search/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/api"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/cache"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/cache"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/billing/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/gateway"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.method in {"GET"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/cache"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/api"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/cache"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.method in {"GET"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/search/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.method in {"GET"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.destination == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.method in {"GET"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/search/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/search/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/api"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/api"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/db-proxy"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/api"
	input.destination == "spiffe://prod.example.org/ns/search/sa/worker"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/api"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/api"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/search/sa/api"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/api"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/api"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/search/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/db-proxy"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/identity/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/api"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/api"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/api"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/db-proxy"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/api"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/cache"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/api"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/worker"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/search/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/worker"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/cache"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/worker"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/api"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/search/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/search/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/api"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/api"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/worker"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/api"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/cache"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/api"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/search/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/gateway"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/search/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/api"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/worker"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.method in {"GET"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.method in {"GET"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/notify/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/api"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/api"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/api"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.method in {"GET"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/worker"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/search/sa/cache"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/api"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/api"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/api"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/api"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/api"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/api"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/api"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/api"
	input.destination == "spiffe://prod.example.org/ns/search/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.method in {"POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/db-proxy"
	input.method in {"GET"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/api"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/gateway"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/api"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/api"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/api"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/api"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/api"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/api"
	input.destination == "spiffe://prod.example.org/ns/search/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/cache"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/search/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/worker"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/api"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/search/sa/worker"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/api"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/search/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.destination == "spiffe://prod.example.org/ns/checkout/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/checkout/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.destination == "spiffe://prod.example.org/ns/notify/sa/api"
	input.method in {"POST"}
	startswith(input.path, "/v1/notify/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/api"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/api"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.method in {"GET"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/worker"
	input.method in {"GET"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/search/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/cache"
	input.destination == "spiffe://prod.example.org/ns/search/sa/gateway"
	input.method in {"GET"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/identity/sa/api"
	input.method in {"GET"}
	startswith(input.path, "/v1/identity/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/worker"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/payments/sa/cache"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/payments/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/search/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/db-proxy"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/audit/sa/db-proxy"
	input.method in {"GET"}
	startswith(input.path, "/v1/audit/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/cache"
	input.method in {"GET"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/cache"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/orders/sa/db-proxy"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/orders/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/search/sa/gateway"
	input.method in {"GET", "PUT", "DELETE"}
	startswith(input.path, "/v1/search/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/gateway"
	input.destination == "spiffe://prod.example.org/ns/shipping/sa/worker"
	input.method in {"POST"}
	startswith(input.path, "/v1/shipping/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/billing/sa/cache"
	input.method in {"GET", "HEAD"}
	startswith(input.path, "/v1/billing/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/catalog/sa/gateway"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/catalog/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/inventory/sa/api"
	input.method in {"GET", "POST"}
	startswith(input.path, "/v1/inventory/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/db-proxy"
	input.method in {"GET", "POST", "PUT", "PATCH"}
	startswith(input.path, "/v1/ledger/")
}

permitted if {
	input.source == "spiffe://prod.example.org/ns/shipping/sa/worker"
	input.destination == "spiffe://prod.example.org/ns/ledger/sa/gateway"
	input.method in {"POST"}
	startswith(input.path, "/v1/ledger/")
}
