-- Users are listed and paged by username (the admin API's /users?after=): an index, so a page is a range read.
CREATE INDEX users_by_username ON users (username);
