package iamtest

import (
	"time"
)

// XML shapes of IAM's results, named as the IAM API reference names them.

type userXML struct {
	Path                string                  `xml:"Path"`
	UserName            string                  `xml:"UserName"`
	UserID              string                  `xml:"UserId"`
	Arn                 string                  `xml:"Arn"`
	CreateDate          string                  `xml:"CreateDate"`
	PermissionsBoundary *permissionsBoundaryXML `xml:"PermissionsBoundary,omitempty"`
	Tags                *members[tagXML]        `xml:"Tags,omitempty"`
}

type permissionsBoundaryXML struct {
	PermissionsBoundaryType string `xml:"PermissionsBoundaryType"`
	PermissionsBoundaryArn  string `xml:"PermissionsBoundaryArn"`
}

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type groupXML struct {
	Path       string `xml:"Path"`
	GroupName  string `xml:"GroupName"`
	GroupID    string `xml:"GroupId"`
	Arn        string `xml:"Arn"`
	CreateDate string `xml:"CreateDate"`
}

type accessKeyXML struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

type attachedPolicyXML struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

type mfaDeviceXML struct {
	UserName     string `xml:"UserName"`
	SerialNumber string `xml:"SerialNumber"`
	EnableDate   string `xml:"EnableDate"`
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func toUserXML(u *User, full bool) userXML {
	x := userXML{Path: u.Path, UserName: u.Name, UserID: u.ID, Arn: u.ARN, CreateDate: isoTime(u.Created)}
	if !full {
		// Like IAM, listings leave out the boundary and tags.
		return x
	}
	if u.PermissionsBoundary != "" {
		x.PermissionsBoundary = &permissionsBoundaryXML{"Policy", u.PermissionsBoundary}
	}
	if len(u.Tags) > 0 {
		x.Tags = &members[tagXML]{Member: tagsXML(u.Tags)}
	}
	return x
}

func tagsXML(tags []Tag) []tagXML {
	out := make([]tagXML, 0, len(tags))
	for _, t := range tags {
		out = append(out, tagXML(t))
	}
	return out
}

func toGroupXML(g *Group) groupXML {
	return groupXML{Path: g.Path, GroupName: g.Name, GroupID: g.ID, Arn: g.ARN, CreateDate: isoTime(g.Created)}
}
