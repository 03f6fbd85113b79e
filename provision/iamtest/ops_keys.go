package iamtest

import (
	"slices"
	"time"
)

type accessKeyResult struct {
	AccessKey accessKeyXML `xml:"AccessKey"`
}

func createAccessKey(st *state, req *request) (any, *apiError) {
	u, aerr := namedOrCaller(st, req)
	if aerr != nil {
		return nil, aerr
	}
	if len(u.AccessKeys) >= maxKeysPerUser {
		return nil, errLimitExceeded("Cannot exceed quota for AccessKeysPerUser: %d", maxKeysPerUser)
	}
	k := AccessKey{ID: newAccessKeyID(), SecretAccessKey: newSecret(), Status: "Active", Created: time.Now().UTC().Truncate(time.Second)}
	u.AccessKeys = append(u.AccessKeys, k)
	st.issued = append(st.issued, k.SecretAccessKey)
	return accessKeyResult{accessKeyXML{UserName: u.Name, AccessKeyID: k.ID, Status: k.Status,
		SecretAccessKey: k.SecretAccessKey, CreateDate: isoTime(k.Created)}}, nil
}

type listAccessKeysResult struct {
	AccessKeyMetadata members[accessKeyXML] `xml:"AccessKeyMetadata"`
	IsTruncated       bool                  `xml:"IsTruncated"`
}

func listAccessKeys(st *state, req *request) (any, *apiError) {
	u, aerr := namedOrCaller(st, req)
	if aerr != nil {
		return nil, aerr
	}
	var res listAccessKeysResult
	for _, k := range u.AccessKeys {
		res.AccessKeyMetadata.Member = append(res.AccessKeyMetadata.Member,
			accessKeyXML{UserName: u.Name, AccessKeyID: k.ID, Status: k.Status, CreateDate: isoTime(k.Created)})
	}
	return res, nil
}

// userKey finds the key named in the request on the named user.
func userKey(st *state, req *request) (*User, int, *apiError) {
	u, aerr := st.user(req.form.Get("UserName"))
	if aerr != nil {
		return nil, 0, aerr
	}
	id := req.form.Get("AccessKeyId")
	if !accessKeyIDFormat.MatchString(id) {
		return nil, 0, errValidation("1 validation error detected: Value '%s' at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]+", id)
	}
	i := slices.IndexFunc(u.AccessKeys, func(k AccessKey) bool { return k.ID == id })
	if i < 0 {
		return nil, 0, errNoSuchEntity("The Access Key with id %s cannot be found.", id)
	}
	return u, i, nil
}

func updateAccessKey(st *state, req *request) (any, *apiError) {
	u, i, aerr := userKey(st, req)
	if aerr != nil {
		return nil, aerr
	}
	status := req.form.Get("Status")
	if status != "Active" && status != "Inactive" {
		return nil, errValidation("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	u.AccessKeys[i].Status = status
	return nil, nil
}

func deleteAccessKey(st *state, req *request) (any, *apiError) {
	u, i, aerr := userKey(st, req)
	if aerr != nil {
		return nil, aerr
	}
	u.AccessKeys = slices.Delete(u.AccessKeys, i, i+1)
	return nil, nil
}

type lastUsedXML struct {
	LastUsedDate string `xml:"LastUsedDate,omitempty"`
	ServiceName  string `xml:"ServiceName"`
	Region       string `xml:"Region"`
}

type lastUsedResult struct {
	UserName          string      `xml:"UserName"`
	AccessKeyLastUsed lastUsedXML `xml:"AccessKeyLastUsed"`
}

func getAccessKeyLastUsed(st *state, req *request) (any, *apiError) {
	id := req.form.Get("AccessKeyId")
	u, i := st.findKey(id)
	if u == nil {
		// IAM answers AccessDenied for keys of other accounts and unknown keys.
		return nil, &apiError{Status: 403, Type: "Sender", Code: "AccessDenied",
			Message: "User is not authorized to perform iam:GetAccessKeyLastUsed on access key " + id}
	}
	k := u.AccessKeys[i]
	lu := lastUsedXML{ServiceName: "N/A", Region: "N/A"}
	if !k.LastUsed.IsZero() {
		lu = lastUsedXML{LastUsedDate: isoTime(k.LastUsed), ServiceName: k.LastUsedService, Region: k.LastUsedRegion}
	}
	return lastUsedResult{u.Name, lu}, nil
}

type loginProfileResult struct {
	LoginProfile struct {
		UserName   string `xml:"UserName"`
		CreateDate string `xml:"CreateDate"`
	} `xml:"LoginProfile"`
}

func getLoginProfile(st *state, u *User, req *request) (any, *apiError) {
	if !u.LoginProfile {
		return nil, errNoSuchEntity("Login Profile for User %s cannot be found.", u.Name)
	}
	var res loginProfileResult
	res.LoginProfile.UserName, res.LoginProfile.CreateDate = u.Name, isoTime(u.Created)
	return res, nil
}

// createLoginProfile gives the user a console password (IAM API reference,
// CreateLoginProfile: EntityAlreadyExists if it has one). The password is
// not kept; sesmtp never reads it, and tests set up console users with it.
func createLoginProfile(st *state, u *User, req *request) (any, *apiError) {
	if u.LoginProfile {
		return nil, errAlreadyExists("Login Profile for user %s already exists.", u.Name)
	}
	if req.form.Get("Password") == "" {
		return nil, errValidation("1 validation error detected: Value at 'password' failed to satisfy constraint: Member must not be null")
	}
	u.LoginProfile = true
	var res loginProfileResult
	res.LoginProfile.UserName, res.LoginProfile.CreateDate = u.Name, isoTime(time.Now())
	return res, nil
}

func deleteLoginProfile(st *state, u *User, req *request) (any, *apiError) {
	if !u.LoginProfile {
		return nil, errNoSuchEntity("Login Profile for User %s cannot be found.", u.Name)
	}
	u.LoginProfile = false
	return nil, nil
}

type certificateXML struct {
	UserName      string `xml:"UserName"`
	CertificateID string `xml:"CertificateId"`
	Status        string `xml:"Status"`
}

type sshPublicKeyXML struct {
	UserName       string `xml:"UserName"`
	SSHPublicKeyID string `xml:"SSHPublicKeyId"`
	Status         string `xml:"Status"`
	UploadDate     string `xml:"UploadDate"`
}

type serviceCredentialXML struct {
	UserName                    string `xml:"UserName"`
	ServiceSpecificCredentialID string `xml:"ServiceSpecificCredentialId"`
	ServiceUserName             string `xml:"ServiceUserName"`
	ServiceName                 string `xml:"ServiceName"`
	Status                      string `xml:"Status"`
	CreateDate                  string `xml:"CreateDate"`
}

// The credentials below are only listed and deleted: tests set them up with
// Server.PutUser.

type certificatesResult struct {
	Certificates members[certificateXML] `xml:"Certificates"`
	IsTruncated  bool                    `xml:"IsTruncated"`
}

func listSigningCertificates(st *state, u *User, req *request) (any, *apiError) {
	var res certificatesResult
	for _, id := range u.SigningCertificates {
		res.Certificates.Member = append(res.Certificates.Member, certificateXML{u.Name, id, "Active"})
	}
	return res, nil
}

// removeID deletes id from list, or answers NoSuchEntity.
func removeID(list *[]string, id, what string) *apiError {
	i := slices.Index(*list, id)
	if i < 0 {
		return errNoSuchEntity("The %s with id %s cannot be found.", what, id)
	}
	*list = slices.Delete(*list, i, i+1)
	return nil
}

func deleteSigningCertificate(st *state, u *User, req *request) (any, *apiError) {
	return nil, removeID(&u.SigningCertificates, req.form.Get("CertificateId"), "Signing Certificate")
}

type sshKeysResult struct {
	SSHPublicKeys members[sshPublicKeyXML] `xml:"SSHPublicKeys"`
	IsTruncated   bool                     `xml:"IsTruncated"`
}

func listSSHPublicKeys(st *state, u *User, req *request) (any, *apiError) {
	var res sshKeysResult
	for _, id := range u.SSHPublicKeys {
		res.SSHPublicKeys.Member = append(res.SSHPublicKeys.Member, sshPublicKeyXML{u.Name, id, "Active", isoTime(u.Created)})
	}
	return res, nil
}

func deleteSSHPublicKey(st *state, u *User, req *request) (any, *apiError) {
	return nil, removeID(&u.SSHPublicKeys, req.form.Get("SSHPublicKeyId"), "Public Key")
}

type serviceCredentialsResult struct {
	ServiceSpecificCredentials members[serviceCredentialXML] `xml:"ServiceSpecificCredentials"`
}

func listServiceSpecificCredentials(st *state, u *User, req *request) (any, *apiError) {
	var res serviceCredentialsResult
	for _, id := range u.ServiceCredentials {
		res.ServiceSpecificCredentials.Member = append(res.ServiceSpecificCredentials.Member, serviceCredentialXML{u.Name, id, u.Name + "-at-" + "codecommit", "codecommit.amazonaws.com", "Active", isoTime(u.Created)})
	}
	return res, nil
}

func deleteServiceSpecificCredential(st *state, u *User, req *request) (any, *apiError) {
	return nil, removeID(&u.ServiceCredentials, req.form.Get("ServiceSpecificCredentialId"), "Service Specific Credential")
}

type mfaDevicesResult struct {
	MFADevices  members[mfaDeviceXML] `xml:"MFADevices"`
	IsTruncated bool                  `xml:"IsTruncated"`
}

func listMFADevices(st *state, u *User, req *request) (any, *apiError) {
	var res mfaDevicesResult
	for _, serial := range u.MFADevices {
		res.MFADevices.Member = append(res.MFADevices.Member, mfaDeviceXML{u.Name, serial, isoTime(u.Created)})
	}
	return res, nil
}

func deactivateMFADevice(st *state, u *User, req *request) (any, *apiError) {
	// A deactivated virtual device survives until DeleteVirtualMFADevice;
	// a hardware one is gone from the user.
	serial := req.form.Get("SerialNumber")
	if !slices.Contains(u.MFADevices, serial) {
		return nil, errNoSuchEntity("MFA Device with serial number %s does not exist.", serial)
	}
	u.MFADevices = slices.DeleteFunc(u.MFADevices, func(s string) bool { return s == serial })
	return nil, nil
}

// deleteVirtualMFADevice deletes one of the account's virtual MFA devices:
// DeleteConflict while it is assigned to a user, NoSuchEntity for a serial
// the account does not hold (DeleteVirtualMFADevice API reference, Errors).
// Serials are ARNs, compared as given: IAM does not normalise them, so
// mfa/sesmtp/../alice names no device.
func deleteVirtualMFADevice(st *state, req *request) (any, *apiError) {
	serial := req.form.Get("SerialNumber")
	for _, u := range st.users {
		if slices.Contains(u.MFADevices, serial) {
			return nil, errDeleteConflict("MFA device is still in use by %s; deactivate it first.", u.Name)
		}
	}
	if !st.virtualMFA[serial] {
		return nil, errNoSuchEntity("VirtualMFADevice with serial number %s doesn't exist.", serial)
	}
	delete(st.virtualMFA, serial)
	return nil, nil
}
