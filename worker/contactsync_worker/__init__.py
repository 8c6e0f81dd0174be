"""The ContactSync worker: runs the contact sync workflows inside one region."""
