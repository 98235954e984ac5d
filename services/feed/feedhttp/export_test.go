package feedhttp

// SetMaxCatchUp lowers the resume bound for a test; the returned func
// restores it.
func SetMaxCatchUp(n int) func() {
	old := maxCatchUp
	maxCatchUp = n
	return func() { maxCatchUp = old }
}
