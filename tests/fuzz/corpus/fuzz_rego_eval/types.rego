package types
t := [type_name(null), type_name(1), type_name("s"), type_name([]), type_name({}), type_name(set()), type_name(true)]
c := [is_number(1), is_string("a"), is_boolean(false), is_array([]), is_set(set()), is_object({}), is_null(null)]
