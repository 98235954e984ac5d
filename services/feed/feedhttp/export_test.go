package feedhttp

import "time"

// SetMaxCatchUp lowers the resume bound for a test; the returned func
// restores it.
func SetMaxCatchUp(n int) func() {
	old := maxCatchUp
	maxCatchUp = n
	return func() { maxCatchUp = old }
}

// RenderMarkdown renders a proposal body as the board does.
func RenderMarkdown(src string) string { return string(newMarkdown().render(src)) }

// TimeLeft is what the board says of a deadline as of now.
func TimeLeft(now, deadline time.Time) string { return timeLeft(now, deadline) }
