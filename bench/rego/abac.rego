# Attribute-based access: owners act on their own objects; colleagues of the owner's
# department may read or comment within business hours (in the department's time zone) when
# their clearance covers the object's classification; nobody touches objects under legal hold
# except compliance, and shared links work until they expire.
package bench.abac

default allow := false

clearance_rank := {"public": 0, "internal": 1, "confidential": 2, "secret": 3}

now := input.time_ns

object := input.resource

allow if {
	not blocked
	owner_access
}

allow if {
	not blocked
	department_access
	business_hours
}

allow if {
	not blocked
	some link in object.shares
	link.grantee == input.subject.id
	input.action in link.actions
	now < time.parse_rfc3339_ns(link.expires)
}

owner_access if {
	object.owner == input.subject.id
	input.action in {"read", "update", "delete", "share"}
}

department_access if {
	dept := data.abac.departments[object.department]
	input.subject.department == object.department
	input.subject.tenant == object.tenant
	clearance_rank[input.subject.clearance] >= clearance_rank[object.classification]
	input.action in dept.colleague_actions
}

business_hours if {
	dept := data.abac.departments[object.department]
	[hour, _, _] := time.clock([now, dept.timezone])
	hour >= dept.opens
	hour < dept.closes
	not time.weekday([now, dept.timezone]) in {"Saturday", "Sunday"}
}

blocked if {
	object.legal_hold
	not "compliance" in input.subject.groups
}
