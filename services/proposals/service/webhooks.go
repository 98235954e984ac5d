package service

import (
	"context"

	"github.com/dpihub/dpihub/services/proposals/prophttp"
	"github.com/dpihub/dpihub/services/proposals/webhook"
)

// webhooks adapts the webhook dispatcher to the API.
type webhooks struct{ d *webhook.Dispatcher }

func view(st webhook.Status, withStatus bool) prophttp.Subscription {
	s := prophttp.Subscription{ID: st.ID, Project: st.Project, URL: st.URL, Created: st.Created}
	if withStatus {
		s.Delivery = st
	}
	return s
}

func (w webhooks) Subscribe(ctx context.Context, project, url string) (prophttp.Subscription, error) {
	sub, secret, err := w.d.Subscribe(ctx, project, url)
	if err != nil {
		return prophttp.Subscription{}, err
	}
	s := view(webhook.Status{Subscription: sub}, false)
	s.Secret = secret
	return s, nil
}

func (w webhooks) List(ctx context.Context) ([]prophttp.Subscription, error) {
	sts, err := w.d.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]prophttp.Subscription, len(sts))
	for i, st := range sts {
		out[i] = view(st, true)
	}
	return out, nil
}

func (w webhooks) Get(ctx context.Context, id string) (prophttp.Subscription, error) {
	st, err := w.d.Get(ctx, id)
	if err != nil {
		return prophttp.Subscription{}, err
	}
	return view(st, true), nil
}

func (w webhooks) Remove(ctx context.Context, id string) error { return w.d.Remove(ctx, id) }
