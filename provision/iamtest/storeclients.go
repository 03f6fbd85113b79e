package iamtest

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// storeConfig is the SDK configuration of the store clients: the
// endpoint's credentials, region us-east-1, nothing from the environment.
func (e *Endpoint) storeConfig() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(e.AccessKeyID, e.SecretAccessKey, ""),
	}
}

// SecretsManager returns a Secrets Manager client for the endpoint, as
// Client does for IAM.
func (e *Endpoint) SecretsManager(opts ...func(*secretsmanager.Options)) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(e.storeConfig(), append([]func(*secretsmanager.Options){
		func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(e.URL) }}, opts...)...)
}

// SSM returns an SSM client for the endpoint, as Client does for IAM.
func (e *Endpoint) SSM(opts ...func(*ssm.Options)) *ssm.Client {
	return ssm.NewFromConfig(e.storeConfig(), append([]func(*ssm.Options){
		func(o *ssm.Options) { o.BaseEndpoint = aws.String(e.URL) }}, opts...)...)
}
