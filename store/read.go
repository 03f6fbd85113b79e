package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/sesmtp/sesmtp/credfile"
)

// SecretReader is the part of the Secrets Manager client Read calls:
// what an application reading the secret needs (secretsmanager:GetSecretValue).
type SecretReader interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ParameterReader is the part of the SSM client Read calls (ssm:GetParameter).
type ParameterReader interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// Readers are the clients Read may need; only the target's must be set.
type Readers struct {
	SecretsManager SecretReader
	SSM            ParameterReader
}

var (
	_ SecretReader    = (*secretsmanager.Client)(nil)
	_ ParameterReader = (*ssm.Client)(nil)
)

// Stored is what a target holds, read as an application reads it (the
// current secret version, the newest parameter versions, decrypted).
type Stored struct {
	Username string
	Password credfile.Secret
	Host     string
	Port     int
	// Region and IAMUser are in the JSON payload; under ssm:/path/ Region
	// is the host's and IAMUser is empty.
	Region, IAMUser string
}

// ErrNotStored: the target holds no credentials (no secret, no parameter).
var ErrNotStored = errors.New("holds no credentials")

// Read reads the credentials t holds, with the calls an application makes.
func Read(ctx context.Context, t Target, r Readers) (Stored, error) {
	switch t.Kind {
	case SecretsManager:
		if r.SecretsManager == nil {
			return Stored{}, errors.New("no Secrets Manager client for " + t.String())
		}
		return readSecret(ctx, t, r.SecretsManager)
	case SSMParameter, SSMPath:
		if r.SSM == nil {
			return Stored{}, errors.New("no SSM client for " + t.String())
		}
		return readParameters(ctx, t, r.SSM)
	}
	return Stored{}, fmt.Errorf("unknown store kind %d", t.Kind)
}

func readSecret(ctx context.Context, t Target, c SecretReader) (Stored, error) {
	res := fmt.Sprintf("secret %q", t.Name)
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(t.Name)})
	if err != nil {
		return Stored{}, notStored(res, awsError("secretsmanager:GetSecretValue", res, err))
	}
	return parseDocument(res, aws.ToString(out.SecretString))
}

// notStored turns a not-found answer into ErrNotStored.
func notStored(resource string, err error) error {
	if isCode[*smtypes.ResourceNotFoundException](err) || isCode[*ssmtypes.ParameterNotFound](err) {
		return fmt.Errorf("%s %w", resource, ErrNotStored)
	}
	return err
}

func parseDocument(resource, value string) (Stored, error) {
	var d document
	if err := json.Unmarshal([]byte(value), &d); err != nil || d.Username == "" || d.Password == "" || d.Host == "" {
		return Stored{}, fmt.Errorf("%s does not hold sesmtp's JSON (username, password, host, port)", resource)
	}
	return Stored{Username: d.Username, Password: credfile.Secret(d.Password), Host: d.Host, Port: d.Port,
		Region: d.Region, IAMUser: d.IAMUser}, nil
}

func readParameters(ctx context.Context, t Target, c ParameterReader) (Stored, error) {
	if t.Kind == SSMParameter {
		v, err := getParameter(ctx, c, t.Name)
		if err != nil {
			return Stored{}, err
		}
		return parseDocument(paramResource(t.Name), v)
	}
	fields := map[string]string{}
	for _, f := range []string{FieldUsername, FieldPassword, FieldHost, FieldPort} {
		v, err := getParameter(ctx, c, t.Name+f)
		if err != nil {
			return Stored{}, err
		}
		fields[f] = v
	}
	port, err := strconv.Atoi(fields[FieldPort])
	if err != nil {
		return Stored{}, fmt.Errorf("%s is not a port number", paramResource(t.Name+FieldPort))
	}
	return Stored{Username: fields[FieldUsername], Password: credfile.Secret(fields[FieldPassword]), Host: fields[FieldHost],
		Port: port, Region: credfile.RegionOfHost(fields[FieldHost])}, nil
}

func getParameter(ctx context.Context, c ParameterReader, name string) (string, error) {
	out, err := c.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", notStored(paramResource(name), awsError("ssm:GetParameter", paramResource(name), err))
	}
	if out.Parameter == nil || aws.ToString(out.Parameter.Value) == "" {
		return "", fmt.Errorf("ssm:GetParameter %s: the answer holds no value", paramResource(name))
	}
	return aws.ToString(out.Parameter.Value), nil
}
