-- Hand-written (drizzle-kit does not manage functions): the key a username is unique by, and found by
-- at sign-in, so that names a reader cannot tell apart belong to one account. Usernames are ASCII
-- letters, digits and "_", ".", "-" (usernameSchema); the key folds case, drops the separators, and
-- reads 0 as o, 1 and i as l (I, l and 1 are one stroke in many fonts), rn as m and vv as w.
-- Two existing usernames with the same key make this migration fail, naming the key: rename one.
CREATE FUNCTION auth_username_key(username text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$ SELECT pg_catalog.replace(pg_catalog.replace(pg_catalog.translate(pg_catalog.lower(username), '01i._-', 'oll'), 'rn', 'm'), 'vv', 'w') $$;--> statement-breakpoint
CREATE TABLE "auth_devices" (
	"cookie_hash" text NOT NULL,
	"user_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"last_signed_in_at" timestamp with time zone NOT NULL,
	CONSTRAINT "auth_devices_cookie_hash_user_id_pk" PRIMARY KEY("cookie_hash","user_id")
);
--> statement-breakpoint
DROP INDEX "users_username_lower_key";--> statement-breakpoint
ALTER TABLE "auth_devices" ADD CONSTRAINT "auth_devices_user_id_users_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("user_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "auth_devices_user_id_idx" ON "auth_devices" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "users_username_key_unique" ON "users" USING btree (auth_username_key("username"));