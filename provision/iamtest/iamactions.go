package iamtest

import (
	"context"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// iamActions holds every action of IAM's Query API, read from the SDK's
// model of it (aws-sdk-go-v2 service/iam: one *iam.Client method per
// operation, NAME(ctx, *NAMEInput, ...)), the server's operations or not.
// IAM answers InvalidAction only for a name it does not know ("Common
// Errors": "Verify that the action is typed correctly"); a call of an
// action it knows is authorized first, so that a caller whose policies do
// not allow it gets AccessDenied whether or not iamtest implements it.
var iamActions = sdkOperations(reflect.TypeFor[*iam.Client]())

func sdkOperations(client reflect.Type) map[string]bool {
	ctxType := reflect.TypeFor[context.Context]()
	ops := map[string]bool{}
	for i := range client.NumMethod() {
		m := client.Method(i)
		// m.Type's inputs: the receiver, ctx, *NAMEInput, ...opts.
		if m.Type.NumIn() != 4 || m.Type.In(1) != ctxType {
			continue
		}
		in := m.Type.In(2)
		if in.Kind() == reflect.Pointer && in.Elem().Name() == m.Name+"Input" {
			ops[m.Name] = true
		}
	}
	return ops
}

// isIAMAction reports whether IAM knows action (see iamActions).
func isIAMAction(action string) bool {
	_, implemented := operations[action]
	return implemented || iamActions[action]
}
