package main_test

import data.burst.lib.testing as t
import data.main

test_raw_input_fails_under_conftest if {
	denies := main.deny with input as {"steps": []}
	{d.rule | some d in denies} == {"main.input_not_normalised"}
}

test_warnings_are_re_exported if {
	plan := t.plan([t.res("aws:ec2/internetGateway:InternetGateway", "igw", {})])
	{w.rule | some w in main.warn} == {"network.internet_egress"} with input as plan
	count(main.deny) == 0 with input as plan
}
