-- IF NOT EXISTS: the migrator has already made the schema, to keep its journal in it.
CREATE SCHEMA IF NOT EXISTS "auth_kit";
--> statement-breakpoint
-- Hand-written (drizzle-kit does not manage functions): the key a username is unique by, and found by
-- at sign-in, so that names a reader cannot tell apart belong to one account. Usernames are ASCII
-- letters, digits and "_", ".", "-" (usernameSchema); the key folds case, drops the separators, and
-- reads 0 as o, 1 and i as l (I, l and 1 are one stroke in many fonts), rn as m and vv as w.
CREATE FUNCTION "auth_kit".auth_username_key(username text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$ SELECT pg_catalog.replace(pg_catalog.replace(pg_catalog.translate(pg_catalog.lower(username), '01i._-', 'oll'), 'rn', 'm'), 'vv', 'w') $$;--> statement-breakpoint
CREATE TABLE "auth_kit"."auth_access_tokens" (
	"selector" text PRIMARY KEY NOT NULL,
	"verifier_hash" text NOT NULL,
	"session_id" text NOT NULL,
	"user_id" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth_kit"."auth_api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"name" text NOT NULL,
	"selector" text NOT NULL,
	"verifier_hash" text NOT NULL,
	"scopes" text[] NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"last_used_at" timestamp with time zone,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"revoke_reason" text,
	CONSTRAINT "auth_api_tokens_selector_unique" UNIQUE("selector")
);
--> statement-breakpoint
CREATE TABLE "auth_kit"."auth_devices" (
	"cookie_hash" text NOT NULL,
	"user_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"last_signed_in_at" timestamp with time zone NOT NULL,
	CONSTRAINT "auth_devices_cookie_hash_user_id_pk" PRIMARY KEY("cookie_hash","user_id")
);
--> statement-breakpoint
CREATE TABLE "auth_kit"."auth_link_tokens" (
	"selector" text PRIMARY KEY NOT NULL,
	"purpose" text NOT NULL,
	"user_id" text NOT NULL,
	"email" text NOT NULL,
	"verifier_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth_kit"."auth_rate_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"window_started_at" timestamp with time zone NOT NULL,
	"hits" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth_kit"."auth_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"refresh_selector" text NOT NULL,
	"refresh_verifier_hash" text NOT NULL,
	"previous_verifier_hash" text,
	"successor_seal" text,
	"rotated_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"last_used_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"revoke_reason" text,
	"user_agent" text,
	"ip" text,
	CONSTRAINT "auth_sessions_refresh_selector_unique" UNIQUE("refresh_selector")
);
--> statement-breakpoint
CREATE TABLE "auth_kit"."users" (
	"user_id" text PRIMARY KEY NOT NULL,
	"username" varchar(20),
	"meta" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"email" text NOT NULL,
	"password_hash" text,
	"successful_login_attempts" integer DEFAULT 0 NOT NULL,
	"confirm_id" text,
	"password_reset_key" text,
	"password_reset_expire" timestamp with time zone,
	"confirmed" boolean DEFAULT false NOT NULL,
	"roles" text[] DEFAULT '{}'::text[] NOT NULL,
	"inserted_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_email_unique" UNIQUE("email")
);
--> statement-breakpoint
ALTER TABLE "auth_kit"."auth_access_tokens" ADD CONSTRAINT "auth_access_tokens_session_id_auth_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "auth_kit"."auth_sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth_kit"."auth_api_tokens" ADD CONSTRAINT "auth_api_tokens_user_id_users_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth_kit"."users"("user_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth_kit"."auth_devices" ADD CONSTRAINT "auth_devices_user_id_users_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth_kit"."users"("user_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth_kit"."auth_link_tokens" ADD CONSTRAINT "auth_link_tokens_user_id_users_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth_kit"."users"("user_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth_kit"."auth_sessions" ADD CONSTRAINT "auth_sessions_user_id_users_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth_kit"."users"("user_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "auth_access_tokens_session_id_idx" ON "auth_kit"."auth_access_tokens" USING btree ("session_id");--> statement-breakpoint
CREATE INDEX "auth_api_tokens_user_id_idx" ON "auth_kit"."auth_api_tokens" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "auth_devices_user_id_idx" ON "auth_kit"."auth_devices" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "auth_link_tokens_user_id_idx" ON "auth_kit"."auth_link_tokens" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "auth_sessions_user_id_idx" ON "auth_kit"."auth_sessions" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "users_username_key_unique" ON "auth_kit"."users" USING btree (auth_kit.auth_username_key("username"));