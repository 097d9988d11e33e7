ALTER TABLE "auth_kit"."users" ALTER COLUMN "email" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "auth_kit"."users" ADD COLUMN "is_anonymous" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "users_anonymous_updated_at_idx" ON "auth_kit"."users" USING btree ("updated_at") WHERE "auth_kit"."users"."is_anonymous";