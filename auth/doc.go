// Package auth decides who may connect to glassmq and what each client may
// publish and subscribe to: it reads the password file (-password-file) and
// the ACL file (-acl-file), checks CONNECT credentials (Checker.Authenticate),
// compiles one client's rules at CONNECT (Checker.For) and answers, without
// allocating, whether a PUBLISH or SUBSCRIBE filter is allowed and whether a
// filtered subscription may receive a topic (Perms). It
// also implements "glassmq passwd" (RunPasswd). Every [MQTT-x.y.z-n] refers to
// the [MQTT 3.1.1 OASIS Standard].
//
// # Password file
//
// One user per line, "USER:HASH". Blank lines and lines whose first
// non-space character is '#' are ignored; spaces around USER and HASH are
// dropped. USER is the CONNECT user name, byte for byte; it cannot contain
// ':' (the first ':' ends it) and must be valid UTF-8; each user appears
// once. HASH is
//
//   - bcrypt, "$2a$", "$2b$" or "$2y$", a two-digit cost from 04 to 31, '$'
//     and 53 characters of salt and hash, 60 characters in all, as made by
//     "glassmq passwd", htpasswd -B or any bcrypt library; or
//   - argon2id in PHC string format, "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH":
//     memory M in KiB (8*P to 1048576), T passes (1 to 64), P threads (1 to
//     255), SALT (at least 8 bytes) and HASH (at least 16 bytes) in unpadded
//     standard base64, as made by "glassmq passwd -hash argon2id", the argon2
//     command line tool with -id -e, or Python's argon2-cffi; or
//   - SCRAM-SHA-256 keys in RFC 5803's notation,
//     "SCRAM-SHA-256$I:SALT$STOREDKEY:SERVERKEY": I PBKDF2 iterations (4096
//     to 1048576), SALT (8 to 1024 bytes), StoredKey and ServerKey (32 bytes
//     each, RFC 5802 section 3) in padded standard base64, as made by
//     "glassmq passwd -hash scram-sha-256 [-iterations I]".
//
// bcrypt and argon2id are verified with golang.org/x/crypto. A SCRAM-SHA-256
// entry serves both a plain CONNECT password (checked by deriving the keys
// from it with SASLprep and PBKDF2, one run of I iterations) and MQTT 5.0
// enhanced authentication with the method "SCRAM-SHA-256" (StartSCRAM, with
// github.com/xdg-go/scram), where the server checks the client's proof
// against StoredKey with a few HMACs. The other two kinds cannot serve
// SCRAM, which needs the keys. Example, with the passwords "alice-secret"
// and "sensor-secret":
//
//	# glassmq password file: glassmq passwd FILE USER adds or changes a user
//	alice:$2a$10$oDcSy0y7xXS73AFLe1Iac.gDJFAdV/cMJJ//LPXCyVuTol1mqe292
//	sensor-17:$argon2id$v=19$m=19456,t=2,p=1$7qKv+ppDR4oRzxzjWsP/8g$b0qF7XcNQG9Il0STPHF9ezj0MZDiSHTYoH1xzsFj09o
//
// Every CONNECT with a user name costs one verification, tens of
// milliseconds of CPU (bcrypt cost 10) or M KiB of memory (argon2id), so
// Authenticate must run off the event loops and the number of CONNECTs being
// checked at once must be bounded. Give all users the same parameters: an
// unknown user name is checked against a dummy hash with the parameters most
// users have, so that the time of a refusal does not tell whether the user
// exists.
//
// # Who may connect
//
// Check lists the rules. In short: a verified client certificate's CN is the
// user name (mutual TLS) and needs no password; no user name is anonymous,
// accepted only with -allow-anonymous, else CONNACK 0x05 (not authorized);
// with a password file, an unknown user, a missing password and a wrong one
// all get CONNACK 0x04 (bad user name or password); without a password file
// a user name is accepted unchecked while anonymous clients are allowed and
// refused with 0x05 otherwise.
//
// # ACL file
//
// Without an ACL file every client may publish and subscribe to anything the
// broker allows. With one, each line is a rule, and for each PUBLISH or
// SUBSCRIBE filter the first rule in the file that applies decides; when
// none does, the answer is deny. A rule is
//
//	allow|deny  publish|subscribe|pubsub  SUBJECT  FILTER
//
// where pubsub means both, and SUBJECT says which clients the rule is about:
//
//	all              every client
//	anonymous        clients without a user name
//	user NAME        clients whose user name (as Authenticate returned it) is NAME
//	client PATTERN   clients whose client ID matches PATTERN, in which '*'
//	                 matches any run of characters, including none, and every
//	                 other character itself ("GID_sensors@@@*", "*-ro")
//
// FILTER, the rest of the line, is an MQTT topic filter with '+' and '#'
// [MQTT-4.7.1] in which a whole level "%u" stands for the client's user name
// and a whole level "%c" for its client ID ("devices/%c/#"; "dev-%c" is an
// error). NAME, PATTERN and FILTER may be written as Go double-quoted strings
// (user "Jo Smith"); FILTER otherwise runs to the end of the line, spaces
// included. Blank lines and lines whose first non-space character is '#' are
// comments; a '#' later in a line is part of the filter.
//
// For a PUBLISH, a rule applies when its filter matches the topic name
// (codec.MatchTopic; "sensors/#" matches "sensors/a/temp"). Rules decide per
// topic name, not per filter text, so a SUBSCRIBE filter is granted when an
// allow rule covers it (matches every topic name the requested filter
// matches: "sensors/#" covers "sensors/+/temp" and "sensors", "+/+" does not
// cover "a/#") before any deny rule covers it; a deny rule that only
// overlaps it (some topic name matches both: "sensors/secret/#" overlaps
// "sensors/#", "+/secret/+" and "#") does not refuse the subscription but
// withholds its topic names: the subscription is granted filtered, and the
// broker asks Perms.CanReceive, first matching subscribe rule decides, for
// each message it would deliver through it. Subscriptions that no deny rule
// overlaps are never checked per message. Following [MQTT-4.7.2-1], a filter
// starting with a wildcard matches, covers and overlaps no topic starting
// with '$': "allow subscribe all #" does not give "$SYS/#", which needs a
// rule of its own.
//
// "%u" and "%c" are replaced by the values of each client at CONNECT. A value
// that cannot be one level of a topic name, because it is empty (%u of an
// anonymous client) or holds '/', '+' or '#', would change what the filter
// means; so an allow rule with it does not apply to that client, and a deny
// rule with it denies that level for every value, as '+' would. Likewise a
// value starting with '$' in the first level makes an allow rule not apply.
// A client ID such as "+" or "a/#" therefore never gains rights through
// "%c". Without a password file a user name is not checked, so "%u" and
// "user NAME" rules then protect nothing against a client that lies.
//
// Example:
//
//	# Operators see everything, broker statistics included.
//	allow subscribe user ops         #
//	allow subscribe user ops         $SYS/#
//	# Nobody writes into the command trees except the controller.
//	allow publish   user controller  devices/+/cmd/#
//	deny  publish   all              devices/+/cmd/#
//	# Each device owns its tree, named by its client ID.
//	allow pubsub    client dev-*     devices/%c/#
//	# Each user has a private inbox, and everyone reads the news.
//	allow pubsub    all              users/%u/inbox/#
//	deny  subscribe all              news/internal/#
//	allow subscribe all              news/#
//	# Anonymous clients may also read the public feed.
//	allow subscribe anonymous        public/#
//
// Here client dev-7 may publish to devices/dev-7/temp but not to
// devices/dev-7/cmd/reboot (the deny comes first) nor to devices/dev-8/temp
// (no rule applies), and may subscribe to devices/dev-7/cmd/#. Every client
// may subscribe to news/sports/#, and to news/# without receiving anything
// under news/internal/; nobody but ops may subscribe to # (no allow rule
// covers it), and ops receives news/internal/ too, its rules coming first.
//
// # Reloading
//
// Checker.Reload re-reads both files (on SIGHUP). A file with any error
// changes nothing: the old rules stay in force and the error names every bad
// line as "auth: FILE:LINE: what is wrong", never quoting a password or a
// hash. On success Checker.Generation increases, and a connection whose
// Perms.Generation is older asks For again; connections are not dropped.
//
// # Goroutines
//
// A Checker and its Perms are safe for concurrent use. Authenticate, For and
// the Perms methods never wait for a lock: the rules in force are one atomic
// pointer, swapped whole by Reload. Perms methods do not allocate; publish
// rules are indexed by level once a client has six or more. auth starts no
// goroutines.
//
// auth imports codec, the standard library, golang.org/x/crypto (bcrypt,
// argon2) and golang.org/x/term (the password prompt of RunPasswd).
//
// [MQTT 3.1.1 OASIS Standard]: https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html
package auth
