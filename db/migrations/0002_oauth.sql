CREATE TABLE "auth_kit"."auth_oauth_flows" (
	"state_hash" text PRIMARY KEY NOT NULL,
	"browser_hash" text NOT NULL,
	"provider" text NOT NULL,
	"issuer" text NOT NULL,
	"redirect_uri" text NOT NULL,
	"return_to" text NOT NULL,
	"link_user_id" text,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "auth_kit"."auth_oauth_identities" (
	"issuer" text NOT NULL,
	"subject" text NOT NULL,
	"user_id" text NOT NULL,
	"provider" text NOT NULL,
	"email" text,
	"linked_at" timestamp with time zone NOT NULL,
	"last_signed_in_at" timestamp with time zone NOT NULL,
	CONSTRAINT "auth_oauth_identities_issuer_subject_pk" PRIMARY KEY("issuer","subject")
);
--> statement-breakpoint
ALTER TABLE "auth_kit"."auth_oauth_flows" ADD CONSTRAINT "auth_oauth_flows_link_user_id_users_user_id_fk" FOREIGN KEY ("link_user_id") REFERENCES "auth_kit"."users"("user_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth_kit"."auth_oauth_identities" ADD CONSTRAINT "auth_oauth_identities_user_id_users_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth_kit"."users"("user_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "auth_oauth_flows_browser_hash_idx" ON "auth_kit"."auth_oauth_flows" USING btree ("browser_hash");--> statement-breakpoint
CREATE INDEX "auth_oauth_flows_expires_at_idx" ON "auth_kit"."auth_oauth_flows" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "auth_oauth_identities_user_id_idx" ON "auth_kit"."auth_oauth_identities" USING btree ("user_id");