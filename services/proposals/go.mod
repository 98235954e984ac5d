module github.com/dpihub/dpihub/services/proposals

go 1.26.8

require github.com/dpihub/dpihub/events v0.0.0

replace github.com/dpihub/dpihub/events => ../../events
