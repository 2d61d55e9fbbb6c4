# greeting speaks HTTP, so the mesh can route its calls by L7 rules.
Kind     = "service-defaults"
Name     = "greeting"
Protocol = "http"
