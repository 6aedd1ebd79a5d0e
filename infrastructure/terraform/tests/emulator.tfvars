# Turns off what moto server cannot emulate (each is validated otherwise: see README "What the emulator cannot do").
# aws_endpoint is passed on the command line (the port is chosen at run time).
enable_container_insights = false # moto has no EKS add-on API (CreateAddon)
enable_budget             = false # see README: moto's budgets do not round-trip the provider's cost filters
secondary_endpoint        = "salespot-dr-alb-1234567890.eu-central-1.elb.amazonaws.com"
bucket_suffix             = "test"
