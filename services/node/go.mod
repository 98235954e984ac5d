module github.com/dpihub/dpihub/services/node

go 1.26.8

require github.com/bluekeyes/go-gitdiff v0.9.0
