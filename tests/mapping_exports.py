"""Contact exports as Google Contacts and Outlook write them: their full published headers,
so the presets are tested against every column a real export has, read or not."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping


def _columns(text: str) -> list[str]:
    return text.split(",")


GOOGLE_CLASSIC_HEADER = _columns(
    "Name,Given Name,Additional Name,Family Name,Yomi Name,Given Name Yomi,"
    "Additional Name Yomi,Family Name Yomi,Name Prefix,Name Suffix,Initials,Nickname,"
    "Short Name,Maiden Name,Birthday,Gender,Location,Billing Information,Directory Server,"
    "Mileage,Occupation,Hobby,Sensitivity,Priority,Subject,Notes,Language,Photo,"
    "Group Membership,E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value,"
    "Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value,Address 1 - Type,"
    "Address 1 - Formatted,Address 1 - Street,Address 1 - City,Address 1 - PO Box,"
    "Address 1 - Region,Address 1 - Postal Code,Address 1 - Country,"
    "Address 1 - Extended Address,Organization 1 - Type,Organization 1 - Name,"
    "Organization 1 - Yomi Name,Organization 1 - Title,Organization 1 - Department,"
    "Organization 1 - Symbol,Organization 1 - Location,Organization 1 - Job Description,"
    "Website 1 - Type,Website 1 - Value"
)

GOOGLE_CURRENT_HEADER = _columns(
    "First Name,Middle Name,Last Name,Phonetic First Name,Phonetic Middle Name,"
    "Phonetic Last Name,Name Prefix,Name Suffix,Nickname,File As,Organization Name,"
    "Organization Title,Organization Department,Birthday,Notes,Photo,Labels,"
    "E-mail 1 - Label,E-mail 1 - Value,E-mail 2 - Label,E-mail 2 - Value,Phone 1 - Label,"
    "Phone 1 - Value,Phone 2 - Label,Phone 2 - Value,Address 1 - Label,Address 1 - Formatted,"
    "Address 1 - Street,Address 1 - City,Address 1 - PO Box,Address 1 - Region,"
    "Address 1 - Postal Code,Address 1 - Country,Address 1 - Extended Address,"
    "Website 1 - Label,Website 1 - Value"
)

OUTLOOK_HEADER = [
    *("Title", "First Name", "Middle Name", "Last Name", "Suffix", "Company", "Department"),
    *("Job Title", "Business Street", "Business Street 2", "Business Street 3"),
    *("Business City", "Business State", "Business Postal Code", "Business Country/Region"),
    *("Home Street", "Home Street 2", "Home Street 3", "Home City", "Home State"),
    *("Home Postal Code", "Home Country/Region", "Other Street", "Other Street 2"),
    *("Other Street 3", "Other City", "Other State", "Other Postal Code"),
    *("Other Country/Region", "Assistant's Phone", "Business Fax", "Business Phone"),
    *("Business Phone 2", "Callback", "Car Phone", "Company Main Phone", "Home Fax"),
    *("Home Phone", "Home Phone 2", "ISDN", "Mobile Phone", "Other Fax", "Other Phone"),
    *("Pager", "Primary Phone", "Radio Phone", "TTY/TDD Phone", "Telex", "Account"),
    *("Anniversary", "Assistant's Name", "Billing Information", "Birthday"),
    *("Business Address PO Box", "Categories", "Children", "Directory Server"),
    *("E-mail Address", "E-mail Type", "E-mail Display Name", "E-mail 2 Address"),
    *("E-mail 2 Type", "E-mail 2 Display Name", "E-mail 3 Address", "E-mail 3 Type"),
    *("E-mail 3 Display Name", "Gender", "Government ID Number", "Hobby"),
    *("Home Address PO Box", "Initials", "Internet Free Busy", "Keywords", "Language"),
    *("Location", "Manager's Name", "Mileage", "Notes", "Office Location"),
    *("Organizational ID Number", "Other Address PO Box", "Priority", "Private"),
    *("Profession", "Referred By", "Sensitivity", "Spouse", "User 1", "User 2", "User 3"),
    *("User 4", "Web Page"),
]

# The shape many spreadsheets and hand-made exports have: no canonical name but one.
SPREADSHEET_HEADER = ["uid", "full_name", "email", "phone", "organization", "consent", "notes"]


def export(header: list[str], rows: Iterable[Mapping[str, str]], *, bom: bool = False) -> bytes:
    """A CSV file with ``header`` whose rows fill the columns they name ('' elsewhere), with
    CRLF line ends as both exporters write them."""
    text = io.StringIO()
    writer = csv.DictWriter(text, header, restval="", extrasaction="raise", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + text.getvalue().encode()


GOOGLE_ADA = {
    "Name": "Ada Lovelace",
    "Given Name": "Ada",
    "Family Name": "Lovelace",
    "Notes": "met at the Analytical Society",
    "Group Membership": "* myContacts ::: Friends",
    "E-mail 1 - Type": "* Work",
    "E-mail 1 - Value": "ada@work.example",
    "E-mail 2 - Type": "Home",
    "E-mail 2 - Value": "ada@home.example ::: ada.l@home.example",
    "Phone 1 - Type": "Mobile",
    "Phone 1 - Value": "+44 20 7946 0101",
    "Phone 2 - Type": "Work Fax",
    "Phone 2 - Value": "+44 20 7946 0109",
    "Address 1 - Type": "Home",
    "Address 1 - Formatted": "12 St James's Square\nLondon SW1Y 4JH\nUK",
    "Address 1 - Street": "12 St James's Square",
    "Address 1 - City": "London",
    "Address 1 - Postal Code": "SW1Y 4JH",
    "Address 1 - Country": "UK",
    "Organization 1 - Name": "Analytical Engines Ltd",
    "Organization 1 - Title": "Analyst",
    "Website 1 - Type": "Blog",
    "Website 1 - Value": "https://ada.example/notes",
}

GOOGLE_CURRENT_GRACE = {
    "First Name": "Grace",
    "Middle Name": "Brewster",
    "Last Name": "Hopper",
    "Organization Name": "US Navy",
    "E-mail 1 - Label": "* Work",
    "E-mail 1 - Value": "grace@navy.example",
    "Phone 1 - Label": "Home",
    "Phone 1 - Value": "+1 202 555 0199",
}

OUTLOOK_ALAN = {
    "Title": "Dr.",
    "First Name": "Alan",
    "Last Name": "Turing",
    "Company": "NPL",
    "Job Title": "Mathematician",
    "Business Street": "Hampton Road",
    "Business City": "Teddington",
    "Business Postal Code": "TW11 0LW",
    "Business Country/Region": "United Kingdom",
    "Business Phone": "+44 20 8977 3222",
    "Mobile Phone": "+44 7700 900123",
    "Business Fax": "+44 20 8943 2155",
    "E-mail Address": "alan@npl.example",
    "E-mail Type": "SMTP",
    "E-mail Display Name": "Alan Turing (alan@npl.example)",
    "E-mail 2 Address": "alan@home.example",
    "Notes": "Bletchley",
}

SPREADSHEET_MAPPING = {
    "entries": [
        {"name": "full_name", "field": "fullName"},
        {"name": "email", "field": "emails", "types": ["work"]},
        {"name": "phone", "field": "phones", "types": ["cell"]},
        {"name": "notes", "field": "note"},
    ]
}
SPREADSHEET_ROWS = [
    {
        "uid": "u-1",
        "full_name": "Katherine Johnson",
        "email": "katherine@nasa.example",
        "phone": "+1 757 555 0142",
        "organization": "NASA",
        "consent": "yes",
        "notes": "orbital mechanics; trajectories",
    },
    {
        "uid": "u-2",
        "full_name": "Dorothy Vaughan",
        "email": "dorothy@nasa.example",
        "phone": "+1 757 555 0143",
        "organization": "NASA",
        "consent": "yes",
        "notes": "",
    },
]
