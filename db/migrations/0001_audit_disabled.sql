CREATE TABLE "auth_kit"."auth_audit_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"user_id" text,
	"session_id" text,
	"ip" text,
	"user_agent" text,
	"at" timestamp with time zone NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "auth_kit"."users" ADD COLUMN "disabled_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "auth_audit_events_user_id_idx" ON "auth_kit"."auth_audit_events" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "auth_audit_events_at_idx" ON "auth_kit"."auth_audit_events" USING btree ("at");